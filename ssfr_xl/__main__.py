"""python -m ssfr_xl"""

from .cli import main

main()
