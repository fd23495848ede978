import ArgumentParser
import IavfCampaign

/// Options `record` and `watch` share (a `LiveOptions` of the live session).
struct LiveArguments: ParsableArguments {
    @Option(help: "Record only this interface's adapter (default: every iavf adapter).")
    var iface: String?

    @Option(help: "Milliseconds without VLAN work (no current_op, no VLAN aq_required bits) before a `settled` event.")
    var settleMs: Int = 500

    @Option(help: "Stop after this many seconds (default: when COMMAND ends, or at SIGINT/SIGTERM).")
    var duration: Double?

    @Option(help: ArgumentHelp("Keep each device's quiet state (settled events, last driver event, reset in flight) in FILE, one line per device, for COMMAND to wait on (`suite cases --quiet-file`).", valueName: "file"))
    var quietFile: String?

    @Flag(help: "Also snapshot the filter list at function entries (more events; exits are always snapshotted).")
    var snapshotAtEnter = false

    @Argument(parsing: .postTerminator,
              help: "A command to run while recording, e.g. a selftest. Its PASS/FAIL/SKIP lines become `mark` events.")
    var command: [String] = []

    func validate() throws {
        guard settleMs >= 1 && settleMs <= 600_000 else { throw ValidationError("--settle-ms must be 1...600000") }
        if let d = duration, d <= 0 { throw ValidationError("--duration must be positive") }
    }

    func options(commandStdout: Int32) -> LiveOptions {
        var o = LiveOptions()
        o.iface = iface
        o.settleMs = settleMs
        o.duration = duration
        o.quietFile = quietFile
        o.snapshotAtEnter = snapshotAtEnter
        o.command = command
        o.commandStdout = commandStdout
        return o
    }
}
