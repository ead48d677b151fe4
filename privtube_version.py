"""The release of privtube, in one place: the command line (`--version`), the API's node info and
setup.py read it (setup.py executes this file, so it must import nothing). CHANGELOG.md says what each
release brought."""
VERSION = '0.2.0'
