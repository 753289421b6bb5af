"""The Flask application of the Quzhou carbon-inclusion platform."""
