"""The identity service (Keystone's role): users, projects, roles, tokens.

Other services reach it through `nova_lite.identity.rpcapi.IdentityAPI`: the API
front end authenticates users and validates their tokens there, and administrators
manage projects, users and role assignments.
"""
