"""Jinja2 templates of the dashboard's pages (a package so that installs ship them)."""
