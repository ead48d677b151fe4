"""Shared fixtures: every test node gets its own config, database and media folder under tmp_path."""
import os
import sys

import pytest
import webtest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import privtube_app  # noqa: E402
import privtube_config  # noqa: E402


def write_config(folder, text=''):
    path = os.path.join(str(folder), 'config.ini')
    with open(path, 'w', encoding='utf-8') as fh:
        fh.write('[node]\nname = testnode\n' + text)
    return path


class NodeFixture:
    """A node on disk plus a WebTest client and helpers to make keys and files."""

    def __init__(self, folder, config_text=''):
        self.folder = str(folder)
        self.config_path = write_config(folder, config_text)
        self.config = privtube_config.load(self.config_path)
        self.app = privtube_app.make_app(self.config)
        self.node = self.app.node
        self.store = self.node.store
        self.accounts = self.node.accounts
        self.client = webtest.TestApp(self.app)
        self.media_dir = self.config.get('store', 'media_dir')

    def key(self, name, rules=('*',), manage=False):
        """Issue a key; returns the Authorization headers that present it."""
        _, token = self.accounts.create_key(name, list(rules), manage=manage)
        return {'Authorization': 'Bearer ' + token}

    def media_file(self, relative, data=b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40):
        path = os.path.join(self.media_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(data)
        return path

    def add(self, relative, tags=(), private=False, title=None, data=None):
        """Put a file in the media folder and index it; returns the item."""
        path = self.media_file(relative, data) if data is not None else self.media_file(relative)
        return self.store.create_item(path, title or os.path.basename(relative), list(tags), private)

    def close(self):
        self.node.close()


@pytest.fixture
def node(tmp_path):
    made = NodeFixture(tmp_path)
    yield made
    made.close()


@pytest.fixture
def make_node(tmp_path):
    """Factory for several isolated nodes in one test: make_node('alice')."""
    made = []

    def build(name='node', config_text=''):
        folder = tmp_path / name
        folder.mkdir()
        fixture = NodeFixture(folder, config_text)
        made.append(fixture)
        return fixture
    yield build
    for fixture in made:
        fixture.close()
