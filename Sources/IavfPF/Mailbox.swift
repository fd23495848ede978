/// One VF's admin queue pair, PF side (avf-device-emulation.md §3): consumes the ATQ (VF → PF)
/// and fills the ARQ (PF → VF). There are no write traps, so every pass re-reads the registers the
/// driver owns; the head registers (ATQH/ARQH) are the engine's only state, which makes a driver
/// re-initialising its rings (it writes 0 there) need no detection at all.
public final class Mailbox {
    public let vf: Int
    public let transport: PFTransport
    /// Messages waiting for a free ARQ slot (or for the driver to enable its ARQ).
    public private(set) var outbox: [PFMessage] = []
    /// Problems seen on the rings (bad addresses, bad lengths), for the log.
    public var onProblem: ((String) -> Void)?
    private var arqWasEnabled = false

    public init(vf: Int, transport: PFTransport) {
        self.vf = vf
        self.transport = transport
    }

    public struct Request: Equatable, Sendable {
        public var op: UInt32
        public var status: Int32
        public var message: [UInt8]
    }

    private func reg(_ o: Int) -> UInt32 { transport.read32(vf: vf, o) }
    private func setReg(_ o: Int, _ v: UInt32) { transport.write32(vf: vf, o, v) }

    private func ring(len: Int, bal: Int, bah: Int) -> (base: UInt64, count: UInt32)? {
        let l = reg(len)
        guard l & AVFRegister.lenEnable != 0 else { return nil }
        let n = l & AVFRegister.lenMask
        let base = UInt64(reg(bah)) << 32 | UInt64(reg(bal))
        guard n > 0, base != 0 else { return nil }
        return (base, n)
    }

    /// Takes every descriptor between ATQH and ATQT, completes it (DD|CMP, head advanced after the
    /// buffer was read) and returns the virtchnl requests found.
    public func receive() -> [Request] {
        guard let (base, n) = ring(len: AVFRegister.atqLen, bal: AVFRegister.atqBAL, bah: AVFRegister.atqBAH) else { return [] }
        var head = reg(AVFRegister.atqH)
        let tail = reg(AVFRegister.atqT)
        guard tail < n else {
            onProblem?("vf\(vf): ATQT \(tail) outside the ring of \(n)")
            return []
        }
        if head >= n { head = 0 }
        var requests: [Request] = []
        var guardCount = 0
        while head != tail && guardCount < Int(n) {
            guardCount += 1
            let at = base + UInt64(head) * UInt64(AQDescriptor.size)
            guard let raw = try? transport.dmaRead(at, count: AQDescriptor.size), var d = AQDescriptor(bytes: raw) else {
                onProblem?("vf\(vf): cannot read ATQ descriptor \(head) at 0x\(String(at, radix: 16))")
                return requests
            }
            var rv: UInt16 = 0
            switch d.opcode {
            case AQDescriptor.Opcode.sendToPF:
                var message: [UInt8] = []
                let len = Int(d.datalen)
                if len > 0 {
                    if d.flags & AQDescriptor.Flag.buf == 0 || len > AQDescriptor.maxBuffer {
                        onProblem?("vf\(vf): ATQ descriptor \(head): datalen \(len) without a usable buffer")
                        rv = 1
                    } else if let m = try? transport.dmaRead(d.bufferAddress, count: len) {
                        message = m
                    } else {
                        onProblem?("vf\(vf): ATQ buffer at 0x\(String(d.bufferAddress, radix: 16)) is not RAM")
                        rv = 1
                    }
                }
                if rv == 0 { requests.append(Request(op: d.cookieHigh, status: d.virtchnlStatus, message: message)) }
            case AQDescriptor.Opcode.queueShutdown:
                break   // the driver is about to re-create its rings; nothing to keep
            default:
                rv = 17  // IAVF_AQ_RC_ENOSYS
            }
            d.flags |= AQDescriptor.Flag.dd | AQDescriptor.Flag.cmp
            d.retval = rv
            try? transport.dmaWrite(at, d.bytes)
            head = (head + 1) % n
            setReg(AVFRegister.atqH, head)     // last: the driver judges completion by the head
        }
        return requests
    }

    /// Queues a message and posts what fits.
    public func post(_ m: PFMessage) {
        outbox.append(m)
        flush()
    }

    /// Posts queued messages into free ARQ slots (ARQH != ARQT); raises vector 0 when anything was
    /// posted and the driver enabled it. Returns the number posted.
    @discardableResult
    public func flush() -> Int {
        let enabled = reg(AVFRegister.arqLen) & AVFRegister.lenEnable != 0
        if arqWasEnabled && !enabled { outbox.removeAll() }   // the ring went away: replies die with it
        arqWasEnabled = enabled
        guard !outbox.isEmpty, let (base, n) = ring(len: AVFRegister.arqLen, bal: AVFRegister.arqBAL, bah: AVFRegister.arqBAH) else {
            return 0
        }
        var head = reg(AVFRegister.arqH)
        if head >= n { head = 0 }
        var posted = 0
        while !outbox.isEmpty && head != reg(AVFRegister.arqT) {
            let m = outbox[0]
            let at = base + UInt64(head) * UInt64(AQDescriptor.size)
            guard let raw = try? transport.dmaRead(at, count: AQDescriptor.size), var d = AQDescriptor(bytes: raw) else {
                onProblem?("vf\(vf): cannot read ARQ descriptor \(head)")
                break
            }
            if !m.payload.isEmpty {
                guard m.payload.count <= Int(d.datalen), d.bufferAddress != 0,
                      (try? transport.dmaWrite(d.bufferAddress, m.payload)) != nil else {
                    onProblem?("vf\(vf): ARQ slot \(head): buffer 0x\(String(d.bufferAddress, radix: 16)) " +
                               "(\(d.datalen) bytes) cannot take \(m.payload.count) bytes; message dropped")
                    outbox.removeFirst()
                    continue
                }
            }
            let keep = d.flags & (AQDescriptor.Flag.buf | AQDescriptor.Flag.lb)
            d.opcode = AQDescriptor.Opcode.sendToVF
            d.datalen = UInt16(m.payload.count)
            d.retval = 0
            d.cookieHigh = m.op
            d.cookieLow = UInt32(bitPattern: m.status)
            d.param0 = 0
            d.param1 = 0
            // everything but the flags first (the buffer address stays as the driver posted it),
            // then the flags that hand the slot over, then the head register
            let bytes = d.bytes
            try? transport.dmaWrite(at + 2, Array(bytes[2..<24]))
            try? transport.dmaWrite(at, [UInt8(truncatingIfNeeded: (AQDescriptor.Flag.dd | AQDescriptor.Flag.cmp | keep)),
                                         UInt8(truncatingIfNeeded: (AQDescriptor.Flag.dd | AQDescriptor.Flag.cmp | keep) >> 8)])
            outbox.removeFirst()
            head = (head + 1) % n
            setReg(AVFRegister.arqH, head)
            posted += 1
        }
        if posted > 0 {
            setReg(AVFRegister.icr01, reg(AVFRegister.icr01) | AVFRegister.icrAdminQueue)
            if reg(AVFRegister.dynCtl01) & AVFRegister.dynCtlIntEna != 0 {
                transport.raise(vf: vf, vector: 0)
            }
        }
        return posted
    }

    /// The device side of a VF reset (ice clear_mbx_register + VFGEN_RSTAT): rings off, pending
    /// replies dropped, reset in progress. `complete()` later publishes VFACTIVE.
    public func beginReset() {
        outbox.removeAll()
        for r in [AVFRegister.atqLen, AVFRegister.arqLen, AVFRegister.atqH, AVFRegister.atqT, AVFRegister.arqH,
                  AVFRegister.arqT, AVFRegister.atqBAL, AVFRegister.atqBAH, AVFRegister.arqBAL, AVFRegister.arqBAH] {
            setReg(r, 0)
        }
        arqWasEnabled = false
        setReg(AVFRegister.rstat, ResetStatus.inProgress.rawValue)
    }

    public func complete() {
        setReg(AVFRegister.rstat, ResetStatus.vfActive.rawValue)
    }

    /// Drops what is queued (a reset the driver started by re-creating its rings).
    public func dropQueued() { outbox.removeAll() }
}
