"""The reports layer: run / batch / verify, notebook execution, HTML, Excel, CSV, manifest, disclosure
(suppression), plots in one house style and the generated text.

Everything published goes through here; nothing below this layer writes a report.
"""

from __future__ import annotations
