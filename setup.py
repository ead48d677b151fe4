import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def release():
    """VERSION of privtube_version.py, read without importing the node (its dependencies may not be installed)."""
    scope = {}
    with open(os.path.join(HERE, 'privtube_version.py'), encoding='utf-8') as fh:
        exec(fh.read(), scope)
    return scope['VERSION']


class build_py_with_description(build_py):
    """Also install openapi.json beside the modules, where privtube_openapi finds it, as in a checkout."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, 'openapi.json'), os.path.join(self.build_lib, 'openapi.json'))


setup(
    name='privtube',
    version=release(),
    description='A private media network for a few trusted homes, on small hardware.',
    # every flat module of the node, whatever its number: privtube.py and privtube_*.py
    py_modules=sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(HERE, 'privtube*.py'))),
    # templates sit beside the modules, where privtube_web.VIEWS finds them
    packages=['views'],
    package_data={'views': ['*.tpl', 'static/*']},
    python_requires='>=3.10',
    install_requires=['bottle>=0.13', 'peewee>=3.17', 'schedule>=1.2', 'requests>=2.31', 'waitress>=3.0,<4',
                      'Pillow>=10', 'pillow-heif>=0.16'],
    extras_require={'test': ['pytest>=8', 'webtest>=3', 'hypothesis>=6', 'jsonschema>=4.18',
                             'openapi-spec-validator>=0.9', 'playwright>=1.40']},
    entry_points={'console_scripts': ['privtube = privtube:main']},
    cmdclass={'build_py': build_py_with_description},
)
