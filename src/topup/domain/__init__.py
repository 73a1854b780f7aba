"""Pure business rules: standard library only (plus the numbering-plan data of `phonenumbers`)."""
