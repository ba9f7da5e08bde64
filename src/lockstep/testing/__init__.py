"""Support code for Lockstep's own tests (browser launch, CSP probe); not used at run time."""
