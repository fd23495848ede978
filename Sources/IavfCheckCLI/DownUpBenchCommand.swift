import ArgumentParser
import Foundation
import IavfBench
import IavfScenarios
import IavfTrace
import IavfCampaign
import IavfVM

/// `iavf-check bench downup`: interface down/up latency of both driver generations against
/// the emulated PF, from the probes' timestamps, with the checker as witness.
struct DownUpBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downup",
        abstract: "Down/up latency per VLAN count on the unpatched and patched drivers (in QEMU, emulated PF).",
        discussion: """
        For each kernel: boots it with the emulated PF (giving every admin-queue reply the \
        --service-us delay, so the figures model hardware, not the emulator), puts K VLANs on \
        VF1 for each K in --vlans, and runs --iterations cycles of `ip link set down`, waited \
        out, then `ip link set up`, waited out. Latency is measured from the probes: `open` \
        enter to the last ENABLE_QUEUES or VLAN reply of the cycle (down: `close` enter to the \
        last DISABLE_QUEUES or VLAN reply). VLAN messages per cycle are counted at \
        iavf_send_pf_msg, from one `close` enter to the next (or to the loop's next VLAN \
        set-up). The same loop also runs without probes; the ratio of the wall-clock \
        times is the probes' overhead. Writes downup.json, downup.svg and the traces to --output.

        Exit codes: 0 measured, 2 bad input, 3 environment problem, 4 a trace that cannot be \
        cut into cycles exactly (no figures rather than wrong ones), 130/143 interrupted by \
        SIGINT/SIGTERM (the guest is stopped).
        """
    )

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "Kernels, comma-separated, in the table's order: unpatched, patched, both (= unpatched,patched), a Debian kernel package, a .deb or a tree.")
    var kernel: String = "unpatched,patched"

    @Option(help: "VLAN counts, comma-separated.")
    var vlans: String = "0,1,2,4,8"

    @Option(help: "Down/up cycles per VLAN count.")
    var iterations: Int = 10

    @Option(help: "The emulated PF's admin-queue service time per message, microseconds.")
    var serviceUs: Int = 50

    @Option(name: .shortAndLong, help: "Directory for downup.json, downup.svg, traces and logs.")
    var output: String = "downup-out"

    @Option(help: "text or json (per kernel and VLAN count: p50_ms, p99_ms, vlan_messages_per_cycle).")
    var format: Format = .text

    @OptionGroup var model: ModelOption

    @OptionGroup var iavf: IavfOption

    @OptionGroup var pf: PFModuleOption

    @Flag(help: "Boot nothing: analyse the traces an earlier run left in --output again.")
    var reanalyse = false

    @Flag(help: "No progress lines while the guests run.")
    var quiet = false

    func validate() throws {
        guard iterations >= 1 && iterations <= 10_000 else { throw ValidationError("--iterations must be 1...10000") }
        guard !vlanCounts.isEmpty, vlanCounts.allSatisfy({ $0 >= 0 && $0 <= 8 }) else {
            throw ValidationError("--vlans takes counts 0...8 (the emulated PF allows 8 per VF), comma-separated")
        }
    }

    var vlanCounts: [Int] { vlans.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        // Bad input fails before anything builds or boots.
        let targets = try iavf.targets(try KernelList.parse(kernel))
        let watchArguments = try model.guestArguments()
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        // A signal kills the guests and writes what the run has: the program's policy, so the
        // engines (also run inside the test process) only adopt children and add hooks.
        Interruption.install()
        var campaign = DownUpCampaign(targets: targets, out: out, moduleDir: reanalyse ? "" : try pf.directory(),
                                      exe: EmulatedPFGuest.executable, vlans: vlans, iterations: iterations, serviceUs: serviceUs)
        campaign.watchArguments = watchArguments
        campaign.note = { FileHandleOutput.stderr("iavf-check: \($0)\n") }
        if !quiet {
            campaign.onCount = { FileHandleOutput.stderr($0 + "\n") }
            campaign.onKernel = { k in
                for c in k.counts {
                    FileHandleOutput.stderr("\(k.kernel): \(c.vlans) VLANs: up p50 \(c.p50Ms.map { String(format: "%.1f", $0) } ?? "-") ms, \(c.vlanMessagesPerCycle.map { String(format: "%.1f", $0) } ?? "-") VLAN msgs/cycle\n")
                }
            }
        }
        let report = try campaign.run(reanalyse: reanalyse)
        FileHandleOutput.stdout(format == .json ? String(decoding: try report.encoded(), as: UTF8.self) + "\n" : report.text(plot: out + "/downup.svg"))
    }
}

/// The guest half: the loop itself, on VF1 moved into a namespace.
struct DownUpGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "downup-guest",
        abstract: "Run the down/up loop here (inside a guest with the emulated PF and iavf); used by `bench downup`.")

    @Option var pfControl: String
    @Option var pfTrace: String
    @Option var vlans: String = "0,1,2,4,8"
    @Option var iterations: Int = 10

    func run() throws {
        let bed = Testbed(pfControl: pfControl, pfTrace: pfTrace, changes: .ip) { FileHandleOutput.stdout("# " + $0 + "\n") }
        do { try bed.setUp(count: 1) } catch {
            throw EnvironmentProblem("bench downup-guest: set-up failed: \(error)")
        }
        defer { bed.tearDown() }
        let counts = vlans.split(separator: ",").compactMap { Int($0) }
        do {
            try DownUpLoop(vlanCounts: counts, iterations: iterations, bed: bed) { FileHandleOutput.stdout($0 + "\n") }.run()
        } catch {
            throw EnvironmentProblem("bench downup-guest: \(error)")
        }
    }
}
