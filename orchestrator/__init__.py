"""Build, boot, run, parse and report the page-residency kselftests under QEMU.

The data flows one way through the modules named after each step:
kernel -> build -> image -> boot -> run -> ktap -> report.
"""
