import ArgumentParser
import Foundation
import IavfModel
import IavfPF
import IavfProbes
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

extension VlanMode: ExpressibleByArgument {}

/// `iavf-check pf`: the emulated AVF PF for the avfpf module's VFs, until signalled.
struct PFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pf",
        abstract: "Run the emulated AVF PF (ice-like) for every VF of the avfpf module, until SIGINT/SIGTERM.",
        discussion: """
        Runs inside a guest booted with memmap=2M$0x7e000000 in which pf-module/avfpf.ko is loaded \
        (it puts N Intel AVF functions, 8086:1889, on a virtual PCI bus). The stock iavf driver binds \
        to them; this command is their PF: admin queue, virtchnl (VERSION, GET_VF_RESOURCES, \
        VLAN V1/V2 with ice's limits and validation, queues, MACs, stats, link events) and resets.

        With --trace FILE it writes `pf` events (trace-format.md): the VLAN set the PF has \
        programmed for a VF, after every VLAN message and every reset. Faults (--fault, or lines \
        written to the --control FIFO):
          reject OP [STATUS]   answer the next OP with STATUS (default -5 ERR_PARAM), do nothing
          drop OP              act on the next OP, never answer it
          delay OP MS          act on the next OP, answer it MS milliseconds later
          reset                PF-initiated reset (RESET_IMPENDING, then the reset)
          link up|down         port link change
          clear                forget faults not yet triggered
        each optionally followed by vf=N (default: every VF). OP is a name such as ADD_VLAN_V2.

        Example (in the guest):
          insmod avfpf.ko && iavf-check pf --trace /tmp/pf.jsonl & modprobe iavf
        """
    )

    @Option(help: "VLAN interface the PF offers: v2 (VLAN_V2, like ice) or v1.")
    var vlanMode: VlanMode = .v2

    @Option(help: "V2 max_filters for an untrusted VF (ice: 8).")
    var maxFilters: Int = 8

    @Option(help: "Admin-queue service time per message in microseconds (e.g. 50, to model hardware in benchmarks).")
    var serviceUs: Int = 0

    @Flag(help: "Treat the VFs as trusted (max_filters 4096, no V1 limit).")
    var trusted = false

    @Flag(help: "V1 over the limit gets ERR_PARAM instead of ice's silent success.")
    var strictV1Limit = false

    @Option(help: "Write `pf` trace events (JSON Lines) here.")
    var trace: String?

    @Option(parsing: .singleValue, help: ArgumentHelp("A fault to arm at start (repeatable); see above.", valueName: "fault"))
    var fault: [String] = []

    @Option(help: ArgumentHelp("Create a FIFO here and take fault lines from it while running.", valueName: "path"))
    var control: String?

    @Option(help: ArgumentHelp("Create this file once the PF is attached (for scripts to wait on).", valueName: "file"))
    var ready: String?

    @Option(help: "The avfpf control device.")
    var device: String = "/dev/avfpf"

    @Option(help: "The avfpf DMA device.")
    var memoryDevice: String = "/dev/avfpf-mem"

    @Flag(name: .shortAndLong, help: "No per-message log lines on stderr.")
    var quiet = false

    func validate() throws {
        guard maxFilters >= 0 && maxFilters <= 4096 else { throw ValidationError("--max-filters must be 0...4096") }
        for f in fault {
            do { _ = try PFFault.parse(f) } catch { throw ValidationError("--fault \(f): \(error)") }
        }
    }

    func run() throws {
        let transport: CharDeviceTransport
        do {
            transport = try CharDeviceTransport(device: device, memoryDevice: memoryDevice)
        } catch {
            throw EnvironmentProblem("pf: \(error)")
        }
        var options = PFEmulator.Options()
        options.policy.vlanMode = vlanMode
        options.policy.maxFilters = maxFilters
        options.policy.trusted = trusted
        options.policy.strictV1Limit = strictV1Limit
        options.deviceNames = (0..<transport.vfCount).map { transport.pciName(vf: $0) }
        options.serviceUs = serviceUs
        let start = Date()
        if !quiet {
            options.log = { line in
                FileHandleOutput.stderr(String(format: "avf-pf[%.3f]: ", Date().timeIntervalSince(start)) + line + "\n")
            }
        }
        if let trace {
            let header = TraceHeader(generation: nil, vlanMode: vlanMode,
                                     maxFilters: vlanMode == .v2 ? options.policy.effectiveMaxFilters : nil, source: .emulated)
            do {
                options.trace = try TraceWriter(path: trace, header: header)
            } catch {
                throw EnvironmentProblem("pf: \(error)")
            }
        }
        let emulator = PFEmulator(transport: transport, options: options)
        for f in fault {
            let (parsed, vf) = try PFFault.parse(f)
            emulator.add(parsed, vf: vf)
        }

        let loop = try PFControlLoop(emulator: emulator, transport: transport, control: control)
        loop.log = options.log
        loop.onBadLine = { line, error in FileHandleOutput.stderr("iavf-check pf: control: \(line): \(error)\n") }
        // SIGINT/SIGTERM through the same handler as record and watch: the poll in
        // transport.wait returns EINTR (or times out within 50 ms) and the loop ends.
        StopSignal.reset()
        try StopSignal.install()
        defer { StopSignal.restore() }
        loop.run(started: {
            if let ready { _ = FileManager.default.createFile(atPath: ready, contents: Data("attached\n".utf8)) }
        }, stop: { StopSignal.received != nil })
        options.log?("stopping on signal \(StopSignal.received ?? 0)")
        try? options.trace?.close()
    }
}
