# Generated package for code made from protos/ by `make proto`; do not edit.
