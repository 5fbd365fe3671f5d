import sys

from tools.character_data import main

sys.exit(main())
