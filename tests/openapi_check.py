"""Every API response the suite produces, checked against openapi.json (README, "The API's description").

`install()` (called once by conftest) wraps Bottle's WSGI entry, so whatever reaches a node's app records
its /api/v1 answers: WebTest clients, the LoopbackNetwork between in-process nodes, and Waitress servers
run inside the test process. conftest checks what a test recorded when the test has run: the path must
match a documented path template, the method be documented there, the status be documented for it, the
headers marked required be present (and match their schema), and a JSON body validate against the
documented schema (Draft 2020-12, OpenAPI 3.1's dialect). A path no template matches may only have been
answered 404 by the router, and an undocumented method 405, both with the documented error body.
"""
import json
import os
import re

import bottle
import jsonschema
import referencing
import referencing.jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESCRIPTION = os.path.join(ROOT, 'openapi.json')
BASE = 'urn:privtube:openapi'
METHODS = ('get', 'head', 'post', 'put', 'patch', 'delete', 'options')
ERROR_POINTER = '/components/schemas/Error'

_recording = {'responses': None}        # the current test's list: answers come from other threads too


def load():
    with open(DESCRIPTION, encoding='utf-8') as fh:
        return json.load(fh)


class Description:
    """The description, its path templates as patterns, and validators compiled once per schema."""

    def __init__(self, doc):
        self.doc = doc
        resource = referencing.Resource.from_contents(doc, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource(BASE, resource)
        self.templates = sorted(((template_pattern(path), path) for path in doc['paths']),
                                key=lambda pair: '{' in pair[1])     # literal paths before templated ones
        self.validators = {}

    def template_of(self, path):
        return next((template for pattern, template in self.templates if pattern.fullmatch(path)), None)

    def validator(self, pointer):
        """A Draft 2020-12 validator of the schema at JSON pointer `pointer` of the description."""
        if pointer not in self.validators:
            self.validators[pointer] = jsonschema.Draft202012Validator({'$ref': BASE + '#' + pointer},
                                                                       registry=self.registry)
        return self.validators[pointer]

    def problems(self, method, path, status, headers, body):
        """What is wrong with one answer (an empty list when it is as described)."""
        template, head = self.template_of(path), method == 'HEAD'
        if template is None:
            return self.router_answer(404, status, head or body, 'no path template of the description matches')
        operations = self.doc['paths'][template]
        if method == 'HEAD' and 'head' not in operations and 'get' in operations:
            method = 'GET'      # Bottle answers HEAD wherever GET is routed, with GET's status and headers
        if method.lower() not in operations:
            return self.router_answer(405, status, head or body, '%s is not documented for %s' % (method, template))
        base = '/paths/%s/%s/responses' % (pointer_part(template), method.lower())
        responses = operations[method.lower()]['responses']
        if str(status) not in responses:
            return ['status %d is not documented for %s %s' % (status, method, template)]
        return self.response_problems(base + '/' + str(status), responses[str(status)], head, headers, body)

    def router_answer(self, expected, status, body, why):
        """The router's own answer (`body` True for a HEAD's, which has none) where nothing is routed."""
        if status != expected:
            return [why]
        return [] if body is True else self.body_problems(ERROR_POINTER, body)

    def response_problems(self, pointer, response, head, headers, body):
        response, pointer = self.resolved(response, pointer)
        problems = [problem for name, header in response.get('headers', {}).items()
                    for problem in self.header_problems(name, header, headers.get(name.lower()))]
        content = response.get('content')
        if not content:
            if body and not head:
                problems.append('a body of %d bytes where none is documented' % len(body))
            return problems
        mime = headers.get('content-type', '').split(';')[0].strip().lower()
        documented = next((m for m in content if media_matches(m, mime)), None)
        if documented is None:
            return problems + ['Content-Type %r is not documented (%s)' % (mime, ', '.join(content))]
        if documented == 'application/json' and not head:
            problems += self.body_problems(pointer + '/content/application~1json/schema', body)
        return problems

    def header_problems(self, name, header, value):
        header = self.resolved(header, '')[0]
        if value is None:
            return ['header %s is missing' % name] if header.get('required') else []
        schema = header.get('schema', {})
        if schema.get('type') == 'string' and 'pattern' in schema and not re.search(schema['pattern'], value):
            return ['header %s: %r does not match %s' % (name, value, schema['pattern'])]
        return []

    def body_problems(self, pointer, body):
        try:
            data = json.loads(body.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            return ['the body is not JSON: %r' % body[:80]]
        error = jsonschema.exceptions.best_match(self.validator(pointer).iter_errors(data))
        if error is None:
            return []
        return ['body at %s: %s' % ('/'.join(str(p) for p in error.absolute_path) or '(top)', error.message[:300])]

    def resolved(self, thing, pointer):
        """`thing` with its `$ref` (to the description itself) followed, and the pointer it is at."""
        while '$ref' in thing:
            pointer = thing['$ref'][1:]
            thing = resolve_pointer(self.doc, pointer)
        return thing, pointer


def template_pattern(path):
    """A path template as the pattern of the paths it matches: `{name}` is one segment, as Bottle's `<name>`."""
    parts = re.split(r'(\{[^}/]+\})', path)
    return re.compile(''.join('[^/]+' if part.startswith('{') else re.escape(part) for part in parts))


def pointer_part(text):
    return text.replace('~', '~0').replace('/', '~1')


def resolve_pointer(doc, pointer):
    for part in pointer.lstrip('/').split('/'):
        doc = doc[part.replace('~1', '/').replace('~0', '~')]
    return doc


def media_matches(documented, mime):
    kind, _, sub = documented.partition('/')
    have_kind, _, have_sub = mime.partition('/')
    return kind in ('*', have_kind) and sub in ('*', have_sub)


# --- recording ------------------------------------------------------------------------------------------

def install():
    """Wrap Bottle's WSGI entry once, so every app the tests build records its API answers."""
    if getattr(bottle.Bottle, '_openapi_recorded', False):
        return
    original = bottle.Bottle.__call__

    def recorded_call(app, environ, start_response):
        responses = _recording['responses']
        path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
        if responses is None or 'privtube.openapi' in environ or not path.startswith('/api/v1/'):
            return original(app, environ, start_response)
        environ['privtube.openapi'] = True
        return record(original, app, environ, start_response, path, responses)

    bottle.Bottle.__call__ = recorded_call
    bottle.Bottle._openapi_recorded = True


def record(original, app, environ, start_response, path, responses):
    """Call the app, keeping its status, headers and (for JSON, which is small) its body."""
    seen = {}

    def keep(status, headers, exc_info=None):
        seen['status'], seen['headers'] = int(status.split()[0]), {k.lower(): v for k, v in headers}
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    result = original(app, environ, keep)
    entry = [environ['REQUEST_METHOD'], path, seen.get('status'), seen.get('headers', {}), None]
    responses.append(entry)
    if 'json' not in entry[3].get('content-type', ''):
        return result
    try:
        body = b''.join(result)
    finally:
        if hasattr(result, 'close'):
            result.close()
    entry[4] = body
    return [body]


def start():
    _recording['responses'] = []


def stop():
    responses, _recording['responses'] = _recording['responses'] or [], None
    return responses


def failures(description, responses):
    """One line per answer that is not as described: method, path, status and what is wrong."""
    lines = []
    for method, path, status, headers, body in responses:
        if status is None:
            continue        # the app raised: the test sees that itself
        for problem in description.problems(method, path, status, headers, body or b''):
            lines.append('%s %s -> %d: %s' % (method, path, status, problem))
    return lines


# --- the Item schema, from the item's one table ---------------------------------------------------------

def item_schema(fields, limits):
    """The JSON Schema of the API's ITEM as privtube_items.ITEM_FIELDS says it is (descriptions aside)."""
    properties = {field.name: field_schema(field, limits) for field in fields if field.api}
    return {'type': 'object', 'required': list(properties), 'additionalProperties': False,
            'properties': properties}


def field_schema(field, limits):
    schema = dict(KIND_SCHEMAS[field.kind](field, limits))
    if field.null:
        schema['type'] = [schema['type'], 'null']
    return schema


KIND_SCHEMAS = {
    'id': lambda field, limits: {'type': 'string', 'pattern': limits['id']},
    'text': lambda field, limits: {'type': 'string', 'maxLength': field.limit},
    'date': lambda field, limits: {'type': 'string', 'maxLength': field.limit},
    'mime': lambda field, limits: {'type': 'string', 'pattern': limits['mime']},
    'int': lambda field, limits: {'type': 'integer', 'minimum': 0},
    'real': lambda field, limits: {'type': 'number', 'minimum': 0},
    'bool': lambda field, limits: {'type': 'boolean'},
    'tags': lambda field, limits: {'type': 'array', 'maxItems': limits['tags'],
                                   'items': {'type': 'string', 'maxLength': limits['tag']}},
    'albums': lambda field, limits: {'type': 'array', 'items': {'type': 'string', 'maxLength': limits['album']}},
    'subtitles': lambda field, limits: {'type': 'array', 'maxItems': limits['subtitles'],
                                        'items': {'$ref': '#/components/schemas/Subtitle'}},
}


def without_descriptions(schema):
    """`schema` without its `description`s: what the code's table decides, for comparison."""
    if isinstance(schema, dict):
        return {k: without_descriptions(v) for k, v in schema.items()
                if not (k == 'description' and isinstance(v, str))}     # a property may be named so
    if isinstance(schema, list):
        return [without_descriptions(v) for v in schema]
    return schema
