"""The dashboard's own scripts and style sheet (a package so that installs ship them)."""
