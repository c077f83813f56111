"""``objstore-recon``: the operator's view of every storage node, over their /recon endpoints."""
