"""A guest's serial console between the agent that owns its hypervisor and the browsers.

Only the process that runs a host's driver can reach its guests' consoles (libvirt: a console
stream and the console log on that host; fake: the simulated guest OS the driver runs). So:

- **Output** a guest prints is published by that process (``bus.publish``) to this process's
  subscribers and, with a shared channel layer (Redis), to the group ``console.<uuid>`` that
  every web process's console sockets join.
- **Input** typed in a browser goes to the host's console worker (``hub``): directly when the
  host's agent runs in the same process (the embedded default), else as a ``console.input``
  message to the group ``consoles.<host>`` that the agent's listener has joined.
- **The console log** (Nova's ``os-getConsoleOutput``) is asked of the host the same way, as a
  request with a reply channel (``client.console_output``).

No byte passes through the database on the keystroke path. The fake's log is kept in its guest
row, so it survives the agent, as a real guest's console.log does.
"""
