"""A small typed Microsoft Graph client: tokens, transport, batch, paging, delta, errors.

It knows nothing of Django or of Lockstep's models; callers hand it a `DirectoryConnection`.
"""
