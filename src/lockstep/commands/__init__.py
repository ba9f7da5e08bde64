"""The `lockstep` subcommands (the parser is `lockstep.cli`; `lockstep m365 ...` is `lockstep.m365.cli`)."""
