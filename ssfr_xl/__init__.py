"""ssfr-xl: need-based school funding (Strategic School Funding for Results) in Excel."""

__version__ = "0.1.0"
