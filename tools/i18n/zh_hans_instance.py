"""Simplified Chinese for the instance page: its actions and their forms, the action log, the
console, log, charts and VNC tabs, the sync's warnings and Nova's refusals as the pages show
them. Same rules as ``zh_hans.py`` (the glossary: locale/zh_Hans/GLOSSARY.md); ``fill.py``
merges every ``zh_hans_*.py`` into that one's data.
"""

T: dict[tuple[str | None, str], str | list[str]] = {
    # forms
    (None, "Flavor"): "规格",
    (None, "Image"): "镜像",
    (None, "Let the scheduler choose"): "由调度器选择",
    (None, "Reason"): "原因",
    (
        None,
        "Shown to other admins, as Nova's disabled_reason.",
    ): "作为 Nova 的 disabled_reason 显示给其他管理员。",
    (None, "New flavor"): "新规格",
    (None, "Destination host"): "目标主机",
    (None, "Rescue image"): "救援镜像",
    (None, "The instance's own image"): "实例自己的镜像",
    (None, "Image name"): "镜像名称",
    (None, "Backup type"): "备份类型",
    (None, "Keep"): "保留份数",
    (None, "New password"): "新密码",
    (None, "Set vm_state to"): "将 vm_state 设为",
    (None, "Type"): "类型",
    (None, "Columns"): "列",
    (None, "Columns shown"): "显示的列",
    (None, "Unknown columns: %(keys)s"): "未知的列：%(keys)s",
    (None, "daily"): "每日",
    (None, "weekly"): "每周",
    # Nova's refusals as the pages show them (dashboard/web/refusals.py); identifiers kept
    (
        None,
        "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s",
    ): "实例 %(uuid)s 处于 %(attr)s %(state)s，不能执行“%(action)s”",
    (
        None,
        "Instance %(uuid)s is in an invalid state for '%(action)s'",
    ): "实例 %(uuid)s 的状态不允许执行“%(action)s”",
    (None, "Instance %(uuid)s is locked"): "实例 %(uuid)s 已锁定",
    (None, "Instance %(uuid)s is not ready"): "实例 %(uuid)s 尚未就绪",
    (None, "Service is unavailable at this time."): "服务暂时不可用。",
    (
        None,
        "Compute service of %(host)s is still in use.",
    ): "%(host)s 的计算服务仍在运行。",
    (
        None,
        "Policy doesn't allow %(rule)s to be performed.",
    ): "策略不允许执行 %(rule)s。",
    (None, "Guest does not have a console available."): "客户机没有可用的控制台。",
    (
        None,
        "The requested functionality is not supported.",
    ): "不支持所请求的功能。",
    (None, "There are not enough hosts available."): "没有足够的可用主机。",
    (
        None,
        "Quota exceeded for %(resources)s: Requested %(requested)s, but already used %(used)s of %(allowed)s %(resources)s",
    ): "%(resources)s 超出配额：请求 %(requested)s，但已使用 %(used)s（配额 %(allowed)s）",
    (
        None,
        "The action is no longer waiting for its compute agent; it cannot be cancelled.",
    ): "该操作已不在等待计算代理，无法取消。",
    (
        None,
        "The instance has moved on since the action was queued; it cannot be cancelled.",
    ): "该操作排队后实例状态已变化，无法取消。",
    (
        None,
        "Reset-state is offered to admins for a task the watchdog reaped.",
    ): "只有管理员可以对被看门狗回收的任务重置状态。",
    # the sync's warnings
    (
        None,
        "the next power-state sync will stop the instance (vm_state → stopped).",
    ): "下一次电源状态同步将停止该实例（vm_state → stopped）。",
    (
        None,
        "the next power-state sync will force-stop it (vm_state → stopped).",
    ): "下一次电源状态同步将强制停止该实例（vm_state → stopped）。",
    (
        None,
        "the next power-state sync will delete the instance.",
    ): "下一次电源状态同步将删除该实例。",
    (
        None,
        "the power-state sync only logs this and changes nothing.",
    ): "电源状态同步只记录此情况，不做任何更改。",
    (
        None,
        "Hypervisor reports %(power)s: %(note)s; %(consequence)s",
    ): "虚拟化层报告 %(power)s：%(note)s；%(consequence)s",
    (
        None,
        "the guest shut down or crashed behind the dashboard's back",
    ): "客户机绕过仪表盘自行关机或崩溃",
    (
        None,
        "the guest was suspended behind the dashboard's back",
    ): "客户机绕过仪表盘被挂起",
    (
        None,
        "the guest is paused by something else; ignored, as external tools pause briefly",
    ): "客户机被其他程序暂停；由于外部工具只会短暂暂停，此情况被忽略",
    (
        None,
        "the guest was unexpectedly not found on the hypervisor",
    ): "意外地在虚拟化层上找不到客户机",
    (None, "the guest of a stopped instance is not off"): "已停止实例的客户机并未关机",
    (
        None,
        "the guest of a paused instance shut down or crashed",
    ): "已暂停实例的客户机关机或崩溃了",
    (
        None,
        "the instance is deleted but its guest is still on the hypervisor",
    ): "实例已删除，但其客户机仍在虚拟化层上",
    # consoles
    (None, "VNC console"): "VNC 控制台",
    (None, "Graphical console"): "图形控制台",
    (
        None,
        "This URL opens one connection, once, for a user of the instance's project; ask for a new one (<code>openstack console url show --novnc</code>) to connect again.",
    ): "此 URL 只能为实例所在项目的用户打开一次连接；如需再次连接，请重新获取（<code>openstack console url show --novnc</code>）。",
    (None, "Console"): "控制台",
    (None, "Log"): "日志",
    (None, "Charts"): "图表",
    (None, "Graphics (VNC)"): "图形（VNC）",
    (None, "Serial console"): "串行控制台",
    (
        None,
        "The guest's serial console (ttyS0). It waits while the guest is not running and reconnects by itself when it runs again.",
    ): "客户机的串行控制台（ttyS0）。客户机未运行时它会等待，客户机再次运行时自动重新连接。",
    (None, "Serial console log"): "串行控制台日志",
    (
        None,
        "The guest's serial console output, as Nova's <code>os-getConsoleOutput</code> returns it, followed live.",
    ): "客户机的串行控制台输出，与 Nova 的 <code>os-getConsoleOutput</code> 返回的一致，实时跟随。",
    (None, "Loading…"): "正在加载…",
    (None, "CPU %%"): "CPU %%",
    (None, "Memory (MiB)"): "内存（MiB）",
    (None, "Disk (bytes/s)"): "磁盘（字节/秒）",
    (None, "Network (bytes/s)"): "网络（字节/秒）",
    (
        None,
        "The last hour, sampled by the host's agent (<code>DIAGNOSTICS_INTERVAL</code>); the admin's <code>GET /servers/{id}/diagnostics</code> has the figures now.",
    ): "最近一小时，由主机代理采样（<code>DIAGNOSTICS_INTERVAL</code>）；管理员的 <code>GET /servers/{id}/diagnostics</code> 给出当前数值。",
    (None, "Opens when this tab is shown."): "切换到此标签页时打开。",
    # the instance page
    (None, "%(label)s: in progress (%(task)s)"): "%(label)s：进行中（%(task)s）",
    (None, "%(label)s (unavailable)"): "%(label)s（不可用）",
    (None, "Unavailable: %(reason)s"): "不可用：%(reason)s",
    (None, "%(label)s: choose options"): "%(label)s：选择选项",
    (None, "%(label)s %(name)s? %(summary)s"): "%(label)s %(name)s？%(summary)s",
    (None, "No actions: the instance is deleted."): "无可用操作：实例已删除。",
    (
        None,
        "%(title)s: in progress (%(task)s); choose the type",
    ): "%(title)s：进行中（%(task)s）；选择类型",
    (None, "%(title)s: unavailable; choose the type"): "%(title)s：不可用；选择类型",
    (None, "%(title)s: choose the type"): "%(title)s：选择类型",
    (None, "Choose the type"): "选择类型",
    (None, "%(title)s type"): "%(title)s类型",
    (None, "%(title)s (unavailable)"): "%(title)s（不可用）",
    (None, "Availability zone"): "可用区",
    (None, "Addresses"): "地址",
    (None, "yes, by %(who)s: %(reason)s"): "是，由 %(who)s 锁定：%(reason)s",
    (None, "yes, by %(who)s"): "是，由 %(who)s 锁定",
    (None, "Launched"): "启动时间",
    (None, "Version"): "版本",
    (
        None,
        "Grows by one with every change; the page ignores older updates.",
    ): "每次变更加一；页面会忽略较旧的更新。",
    ("outcome", "Error"): "错误",
    ("outcome", "Running"): "进行中",
    ("outcome", "Done"): "完成",
    ("outcome", "Success"): "成功",
    ("outcome", "running"): "进行中",
    (None, "system"): "系统",
    (None, "by %(who)s via %(client)s"): "由 %(who)s 通过 %(client)s",
    (None, "by %(who)s"): "由 %(who)s",
    (None, "No actions recorded yet."): "尚无操作记录。",
    (None, "Confirm %(label)s"): "确认%(label)s",
    (None, "%(label)s?"): "%(label)s？",
    (None, "%(label)s %(count)s instance"): ["%(label)s %(count)s 个实例"],
    (
        None,
        'The instance is accepted at once in <em>building</em> and walks <span class="mono">%(create_walk)s</span> to <em>active</em>.',
    ): '实例会立即以 <em>building</em> 状态受理，依次经过 <span class="mono">%(create_walk)s</span>，最终到达 <em>active</em>。',
    (None, "(admins)"): "（管理员）",
    (None, "This instance has been deleted."): "此实例已被删除。",
    (None, "Fault"): "故障",
    (None, "Details"): "详细信息",
    (None, "Recorded %(when)s UTC on %(host)s."): "记录于 %(when)s UTC，主机 %(host)s。",
    (None, "Recorded %(when)s UTC."): "记录于 %(when)s UTC。",
    (None, "Actions"): "操作",
    (
        None,
        "Greyed-out actions say why they are not allowed now: hover or focus them.",
    ): "灰色的操作会说明当前为何不允许：将鼠标悬停或聚焦其上即可查看。",
    (None, "Action log"): "操作日志",
}

#: The console script's texts, the bell's and the live announcer's (djangojs.po).
JS: dict[tuple[str | None, str], str | list[str]] = {
    (None, "Notifications: %(count)s unread"): "通知：%(count)s 条未读",
    (None, "Status changed: %(changes)s"): "状态已变化：%(changes)s",
    (None, "%(changes)s; and %(more)s more change"): ["%(changes)s；另有 %(more)s 处变化"],
    (None, "The guest has no state yet."): "客户机尚无状态。",
    (None, "The guest is paused."): "客户机已暂停。",
    (None, "The guest is shut off."): "客户机已关机。",
    (None, "The guest has crashed."): "客户机已崩溃。",
    (None, "The guest is suspended."): "客户机已挂起。",
    (None, "The guest is rebooting."): "客户机正在重启。",
    (
        None,
        "The instance is shelved and offloaded: it has no guest.",
    ): "实例已搁置并卸载：没有客户机。",
    (None, "The guest is %(task)s."): "客户机处于 %(task)s。",
    (None, "The guest is not running."): "客户机未运行。",
    (
        None,
        "%(reason)s The log is kept; it carries on when the guest runs again.",
    ): "%(reason)s日志会保留；客户机再次运行时继续。",
    (None, "Following the console live."): "正在实时跟随控制台。",
    (None, "Reconnecting…"): "正在重新连接…",
    (None, "The console could not be opened (%(status)s)."): "无法打开控制台（%(status)s）。",
    (
        None,
        "%(reason)s The console reconnects by itself when it runs again.",
    ): "%(reason)s客户机再次运行时，控制台会自动重新连接。",
    (None, "Connected."): "已连接。",
    (None, "Connection lost — reconnecting…"): "连接已断开——正在重新连接…",
    (
        None,
        "%(reason)s The console reconnects when it runs again.",
    ): "%(reason)s客户机再次运行时，控制台会重新连接。",
    (None, "CPU %"): "CPU %",
    (None, "used"): "已用",
    (None, "maximum"): "上限",
    (None, "read"): "读",
    (None, "write"): "写",
    (None, "The samples could not be read."): "无法读取采样数据。",
    (
        None,
        "Sampling is off on this dashboard (DIAGNOSTICS_INTERVAL).",
    ): "此仪表盘已关闭采样（DIAGNOSTICS_INTERVAL）。",
    (
        None,
        "Paused: %(reason)s Nothing is sampled until it runs again.",
    ): "已暂停：%(reason)s在客户机再次运行前不会采样。",
    (
        None,
        "Waiting for the first samples (every %(interval)s s)…",
    ): "正在等待首批采样（每 %(interval)s 秒）…",
    (None, "Live: a sample every %(interval)s s."): "实时：每 %(interval)s 秒采样一次。",
    (
        None,
        "Disconnected. A console URL opens one connection, once: ask for a new one to connect again.",
    ): "已断开。控制台 URL 只能打开一次连接：如需再次连接，请重新获取。",
}
