"""The volume service (Cinder's role): block volumes and their attachments to instances."""
