"""oldphoto: restore damaged photo prints from the command line."""

__version__ = "0.1.0"
