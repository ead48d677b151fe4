"""The API's description (openapi.json): valid OpenAPI 3.1, the same routes as the code, the Item of the
item's one table, served without a key from wherever the module is installed, and a checker
(tests/openapi_check.py) that does fail an answer that drifted from it."""
import importlib.util
import json
import os
import re
import subprocess
import sys

import bottle
import jsonschema
import openapi_check
import openapi_spec_validator
import referencing.exceptions
import webtest
from conftest import API_DESCRIPTION, ROOT

import privtube_auth as auth
import privtube_items as items
import privtube_openapi
import privtube_version

DOC = API_DESCRIPTION.doc
ITEM_LIMITS = dict(id=items.REMOTE_ID.pattern.replace('\\Z', '$'), mime=items.MIME.pattern.replace('\\Z', '$'),
                   tags=auth.MAX_TAGS, tag=auth.MAX_TAG, album=auth.MAX_ALBUM, subtitles=items.MAX_SUBTITLES)


def schemas_in(thing, pointer=''):
    """(pointer, schema) of every schema in the description: components' and every `schema` member."""
    if isinstance(thing, dict):
        for key, value in thing.items():
            here = pointer + '/' + openapi_check.pointer_part(key)
            if key == 'schema' or pointer == '/components/schemas':
                yield here, value
            else:
                yield from schemas_in(value, here)
    elif isinstance(thing, list):
        for n, value in enumerate(thing):
            yield from schemas_in(value, '%s/%d' % (pointer, n))


def refs_in(thing):
    if isinstance(thing, dict):
        if isinstance(thing.get('$ref'), str):
            yield thing['$ref']
        for value in thing.values():
            yield from refs_in(value)
    elif isinstance(thing, list):
        for value in thing:
            yield from refs_in(value)


def test_the_description_is_openapi_3_1_with_valid_schemas_and_refs():
    assert re.fullmatch(r'3\.1\.[0-9]+', DOC['openapi'])
    found = list(schemas_in(DOC))
    assert len(found) > 40
    for pointer, schema in found:
        jsonschema.Draft202012Validator.check_schema(schema)
    resolver = API_DESCRIPTION.registry.resolver(openapi_check.BASE)
    for ref in set(refs_in(DOC)):
        assert ref.startswith('#/'), ref
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            raise AssertionError('%s does not resolve' % ref)


def test_the_description_passes_the_openapi_3_1_schema():
    """The OpenAPI Initiative's own schema of 3.1 documents (openapi-spec-validator), beyond the checks above."""
    openapi_spec_validator.validate(DOC, cls=openapi_spec_validator.OpenAPIV31SpecValidator)


def test_every_api_route_is_described_and_every_described_route_exists(node):
    routed = {(route.method.lower(), re.sub(r'<([^>:]+)>', r'{\1}', route.rule))
              for route in node.app.routes if route.rule.startswith('/api/v1/')}
    described = {(method, path) for path, operations in DOC['paths'].items()
                 for method in operations if method in openapi_check.METHODS}
    heads = {('get', path) for method, path in described if method == 'head'}     # Bottle's HEAD is GET's
    assert routed == {(method, path) for method, path in described if method != 'head'}
    assert heads and heads <= routed


def test_every_operation_documents_its_errors_and_security():
    for path, operations in DOC['paths'].items():
        for method, operation in operations.items():
            if method not in openapi_check.METHODS:
                continue
            statuses = set(operation['responses'])
            assert {'400', '500'} <= statuses, (method, path)
            keyless = operation.get('security') == []
            assert keyless == (path in ('/api/v1/pair', '/api/v1/openapi.json')), (method, path)
            assert keyless or '401' in statuses, (method, path)


def test_the_item_schema_is_the_item_fields_table():
    documented = openapi_check.without_descriptions(DOC['components']['schemas']['Item'])
    assert documented == openapi_check.item_schema(items.ITEM_FIELDS, ITEM_LIMITS)


def test_the_description_has_the_nodes_version(node):
    """info.version is the version the node answers (GET /api/v1/node), wherever the code keeps it."""
    answered = node.client.get('/api/v1/node', headers=node.key('reader')).json['version']
    assert DOC['info']['version'] == answered == privtube_version.VERSION


def test_the_served_description_is_the_file_and_needs_no_key(node):
    answer = node.client.get('/api/v1/openapi.json', status=200)
    assert answer.content_type == 'application/json'
    with open(os.path.join(ROOT, 'openapi.json'), 'rb') as fh:
        assert answer.body == fh.read()
    assert answer.json['info']['title']


def test_a_key_in_the_query_is_refused_on_the_description_too(node):
    node.client.get('/api/v1/openapi.json?key=abc', status=400)


def test_an_installed_node_finds_its_description_beside_its_modules(tmp_path):
    """setup.py's build (what `pip install .` runs) puts openapi.json beside the modules, where
    privtube_openapi looks for it."""
    subprocess.run([sys.executable, 'setup.py', '-q', 'build', '--build-base', str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True)
    installed = tmp_path / 'lib'
    spec = importlib.util.spec_from_file_location('privtube_openapi_installed', installed / 'privtube_openapi.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DESCRIPTION_PATH == str(installed / 'openapi.json')
    api = bottle.Bottle()
    module.register_api(api, None)
    answer = webtest.TestApp(api).get('/openapi.json', status=200)
    assert answer.content_type == 'application/json'
    assert answer.body == privtube_openapi.description_bytes()


def test_the_checker_fails_an_answer_that_drifted_from_the_description(node, monkeypatch):
    item = node.add('clip.mp4', title='Clip')
    headers = node.key('reader')
    honest = node.store.items.json

    monkeypatch.setattr(node.store.items, 'json', lambda *args: dict(honest(*args), secret='x', views='many'))
    openapi_check.stop()
    openapi_check.start()
    node.client.get('/api/v1/content/' + item.id, headers=headers)
    node.client.get('/api/v1/content/%s/media' % item.id, headers=dict(headers, Range='bytes=0-9'), status=206)
    wrong = openapi_check.failures(API_DESCRIPTION, openapi_check.stop())
    openapi_check.start()
    assert len(wrong) == 1 and wrong[0].startswith('GET /api/v1/content/%s -> 200: body' % item.id), wrong
    assert "'secret'" in wrong[0] or "'many'" in wrong[0]


def test_the_checker_names_an_undocumented_status_header_or_path():
    check = API_DESCRIPTION.problems
    error = json.dumps({'error': 'x'}).encode()
    assert check('GET', '/api/v1/node', 418, {'content-type': 'application/json'}, error) == \
        ['status 418 is not documented for GET /api/v1/node']
    assert check('GET', '/api/v1/nothing', 200, {}, b'') == ['no path template of the description matches']
    assert check('GET', '/api/v1/nothing', 404, {'content-type': 'application/json'}, error) == []
    assert check('PUT', '/api/v1/node', 405, {'content-type': 'application/json'}, error) == []
    partial = {'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'etag': '"1"', 'content-length': '10',
               'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT', 'x-content-type-options': 'nosniff'}
    assert check('GET', '/api/v1/content/abc/media', 206, partial, b'') == ['header Content-Range is missing']
    assert check('GET', '/api/v1/content/abc/media', 206, dict(partial, **{'content-range': 'bytes 0-9/*'}),
                 b'')[0].startswith('header Content-Range:')
    assert check('POST', '/api/v1/content/abc/views', 204, {}, b'') == []
    assert check('POST', '/api/v1/content/abc/views', 204, {}, b'{}') == \
        ['a body of 2 bytes where none is documented']
