"""The pieces of ssfr_xl.reader's pre-flight of an untrusted xlsx (see ssfr_xl/reader.py for
the whole, in order, and the public functions)."""
