"""authentik's REST API: releases, the HTTP client and its errors."""
