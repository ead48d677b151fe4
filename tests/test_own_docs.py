"""Code, templates and the README cite the project's own documentation (README sections, openapi.json),
never files outside the repository that a reader of a clone does not have."""
import os
import re

from conftest import ROOT

# a sibling folder of notes, or the notes' file names (this file names them to find them, and is skipped)
OUTSIDE = re.compile(r'\.\./shared\b|\bshared/[A-Z]+\.md\b|\b(?:CONTRACT|THREATS|STYLE)\.md\b|\b(?:CONTRACT|THREATS)\b')
SKIPPED = {'.git', '.venv', 'build', 'dist', '__pycache__', '.pytest_cache', '.hypothesis', 'media', 'node_modules',
           '.npm', 'out'}
TEXT = ('.py', '.tpl', '.js', '.css', '.md', '.ini', '.txt', '.toml', '.json', '.yml', '.yaml', '.service', '.in',
        'Dockerfile', 'run')


def repository_texts():
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [name for name in folders if name not in SKIPPED and not name.endswith('.egg-info')]
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(TEXT) and path != os.path.abspath(__file__):
                yield path


def test_nothing_in_the_repository_cites_files_outside_it():
    cited = []
    for path in repository_texts():
        with open(path, encoding='utf-8', errors='replace') as fh:
            for number, line in enumerate(fh, 1):
                if OUTSIDE.search(line):
                    cited.append('%s:%d: %s' % (os.path.relpath(path, ROOT), number, line.strip()[:100]))
    assert not cited, 'cite README or openapi.json instead:\n' + '\n'.join(cited)


def test_the_pattern_finds_what_it_is_for():
    for text in ('see ../shared/notes', 'the rules (CONTRACT.md)', 'THREATS.md, "Peers"', 'STYLE.md says',
                 'as the CONTRACT says'):
        assert OUTSIDE.search(text), text
    for text in ('STYLE_TAG = re.compile', 'a NOTE or STYLE block', 'the contract of Range', 'shared items'):
        assert not OUTSIDE.search(text), text
