"""Bottle templates and static files of the privtube web app (a package only so that pip installs them)."""
