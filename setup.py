from setuptools import setup

setup(
    name='privtube',
    version='0.1.0',
    description='A private media network for a few trusted homes, on small hardware.',
    py_modules=['privtube', 'privtube_admin', 'privtube_albums', 'privtube_api', 'privtube_app', 'privtube_auth',
                'privtube_bulk', 'privtube_config', 'privtube_db', 'privtube_gateway', 'privtube_items',
                'privtube_library', 'privtube_media', 'privtube_peer', 'privtube_photos', 'privtube_probe',
                'privtube_reach',
                'privtube_registry', 'privtube_remote', 'privtube_scan', 'privtube_search', 'privtube_store',
                'privtube_taken', 'privtube_timeline', 'privtube_tus', 'privtube_web'],
    # templates sit beside the modules, where privtube_web.VIEWS finds them
    packages=['views'],
    package_data={'views': ['*.tpl', 'static/*']},
    python_requires='>=3.10',
    install_requires=['bottle>=0.13', 'peewee>=3.17', 'schedule>=1.2', 'requests>=2.31', 'waitress>=3.0,<4',
                      'Pillow>=10', 'pillow-heif>=0.16'],
    extras_require={'test': ['pytest>=8', 'webtest>=3', 'hypothesis>=6', 'playwright>=1.40']},
    entry_points={'console_scripts': ['privtube = privtube:main']},
)
