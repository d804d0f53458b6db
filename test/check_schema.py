#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Check docs/lbd.schema.json against the configs that test_config checks.

  - the schema is a valid draft 2020-12 schema;
  - every test/configs/valid/*.json passes it;
  - every config example in docs/*.md passes it (a ```json block whose top
    level is an object with "interface", which every config has: the state
    file and control socket examples have none), and docs/config.md
    shows test/configs/valid/full.json, which the C tests load;
  - test/configs/invalid/expected.txt marks with "schema" exactly the files
    the schema rejects, and the schema rejects those only where lbd reports
    an error too (each schema error's path leads to an expected error line).

Usage: check_schema.py [SOURCE_ROOT]   (default: the parent of this script's
directory). Needs python3-jsonschema. Exits 1 listing every failure.
"""
import json
import os
import re
import sys

import jsonschema

FENCE = re.compile(r'^```json[ \t]*\n(.*?)^```[ \t]*$', re.M | re.S)


def pointer(path):
    """A jsonschema error path as an RFC 6901 JSON pointer."""
    return ''.join('/' + str(p).replace('~', '~0').replace('/', '~1') for p in path)


def load_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def make_validator(root, failures):
    path = os.path.join(root, 'docs', 'lbd.schema.json')
    schema = load_json(path)
    cls = jsonschema.Draft202012Validator
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        failures.append(f'{path}: not a valid draft 2020-12 schema: {e.message}')
        return None
    checker = getattr(cls, 'FORMAT_CHECKER', None) or jsonschema.FormatChecker()
    return cls(schema, format_checker=checker)


def schema_errors(validator, doc):
    """(pointer, message) of each top-level error, in a stable order."""
    errs = [(pointer(e.absolute_path), e.message[:200]) for e in validator.iter_errors(doc)]
    return sorted(errs)


def check_valid(validator, root, failures):
    vdir = os.path.join(root, 'test', 'configs', 'valid')
    names = sorted(n for n in os.listdir(vdir) if n.endswith('.json'))
    if not names:
        failures.append(f'{vdir}: no valid configs')
    for name in names:
        for ptr, msg in schema_errors(validator, load_json(os.path.join(vdir, name))):
            failures.append(f'valid/{name}: {ptr or "/"}: rejected by the schema: {msg}')
    return names


def doc_examples(root):
    """(file, line, text) of each config example in docs/*.md."""
    ddir = os.path.join(root, 'docs')
    for name in sorted(os.listdir(ddir)):
        if not name.endswith('.md'):
            continue
        with open(os.path.join(ddir, name), encoding='utf-8') as f:
            text = f.read()
        for m in FENCE.finditer(text):
            yield name, text.count('\n', 0, m.start()) + 1, m.group(1)


def check_docs(validator, root, failures):
    full = load_json(os.path.join(root, 'test', 'configs', 'valid', 'full.json'))
    shown = False
    count = 0
    for name, line, block in doc_examples(root):
        where = f'docs/{name}:{line}'
        try:
            doc = json.loads(block)
        except ValueError as e:
            if name == 'config.md':
                failures.append(f'{where}: json block does not parse: {e}')
            continue
        if not isinstance(doc, dict) or 'interface' not in doc:
            if name == 'config.md':
                failures.append(f'{where}: json block is not a config')
            continue
        count += 1
        shown |= name == 'config.md' and doc == full
        for ptr, msg in schema_errors(validator, doc):
            failures.append(f'{where}: {ptr or "/"}: rejected by the schema: {msg}')
    if not count:
        failures.append('docs: no config example found')
    if not shown:
        failures.append('docs/config.md: no example equal to test/configs/valid/full.json')
    return count


def read_expected(path):
    """{file: (schema_marked, [error pointers])} from expected.txt."""
    sections = {}
    cur = None
    with open(path, encoding='utf-8') as f:
        for raw in f:
            line = raw.rstrip('\n')
            if line.startswith('== '):
                words = line[3:].split(' ')
                cur = words[0]
                sections[cur] = (words[1:] == ['schema'], [])
            elif cur and line and not line.startswith('#'):
                # "/pointer: message", or "FILE...: message" for the document
                ptr = line.split(': ', 1)[0] if line.startswith('/') else ''
                sections[cur][1].append(ptr)
    return sections


def leads_to(ptr, expected):
    return any(ptr == e or e.startswith(ptr + '/') or not ptr for e in expected)


def check_invalid(validator, root, failures):
    idir = os.path.join(root, 'test', 'configs', 'invalid')
    sections = read_expected(os.path.join(idir, 'expected.txt'))
    marked = 0
    for name, (schema, expected) in sorted(sections.items()):
        marked += schema
        try:
            doc = load_json(os.path.join(idir, name))
        except ValueError:
            if schema:
                failures.append(f'invalid/{name}: marked "schema" but is not JSON')
            continue
        except OSError as e:
            failures.append(f'invalid/{name}: {e.strerror}')
            continue
        errs = schema_errors(validator, doc)
        if schema and not errs:
            failures.append(f'invalid/{name}: marked "schema" but the schema accepts it')
        if not schema and errs:
            failures.append(f'invalid/{name}: the schema rejects it ({errs[0][0] or "/"}: '
                            f'{errs[0][1]}): mark it "schema" in expected.txt')
        for ptr, msg in errs:
            if schema and not leads_to(ptr, expected):
                failures.append(f'invalid/{name}: {ptr or "/"}: the schema rejects what lbd '
                                f'accepts: {msg}')
    if not marked:
        failures.append('invalid/expected.txt: no file marked "schema"')
    return len(sections), marked


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(here)
    failures = []
    validator = make_validator(root, failures)
    if validator:
        nvalid = len(check_valid(validator, root, failures))
        ndocs = check_docs(validator, root, failures)
        ninvalid, marked = check_invalid(validator, root, failures)
    for f in failures:
        print(f'check_schema: {f}', file=sys.stderr)
    if failures:
        print(f'check_schema: FAILED, {len(failures)} problem(s)', file=sys.stderr)
        return 1
    print(f'check_schema: ok: {nvalid} valid configs and {ndocs} doc examples pass, '
          f'{marked} of {ninvalid} invalid configs rejected as marked')
    return 0


if __name__ == '__main__':
    sys.exit(main())
