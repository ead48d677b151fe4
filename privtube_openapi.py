"""The API's own description: `openapi.json` (OpenAPI 3.1) beside this module, served without a key at
`GET /api/v1/openapi.json`. It is kept by hand; the test suite validates every API response it produces
against it, and checks its Item schema against privtube_items.ITEM_FIELDS (README, "The API's
description").

In a checkout the file sits at the repository's top level, beside the modules; setup.py installs it beside
the installed modules too, so both find it the same way.
"""
import functools
import os

import bottle

DESCRIPTION_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'openapi.json')


@functools.lru_cache(maxsize=1)
def description_bytes(path=DESCRIPTION_PATH):
    """The description as the file holds it, read once per process (it changes only with the code)."""
    with open(path, 'rb') as fh:
        return fh.read()


def register_api(api, node):
    """`GET /api/v1/openapi.json`: the description, for any OpenAPI viewer or client generator."""

    @api.get('/openapi.json', anonymous=True)
    def openapi():
        bottle.response.content_type = 'application/json'
        return description_bytes()
