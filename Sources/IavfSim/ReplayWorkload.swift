/// The synthetic trace of `bench replay`: five VLANs added, a down/up, a delete and re-add
/// while up, every VLAN deleted, each step run until the driver settles; repeated, it is a
/// trace of any length on the common patched path.
public enum ReplayWorkload {
    public static func cycle(_ sim: inout SimulatedDriver, limit: Int) {
        let vids: [UInt16] = [100, 101, 102, 103, 104]
        for v in vids { sim.userAdd(v) }
        sim.runUntilSettled()
        sim.down()
        sim.up()
        sim.runUntilSettled()
        sim.userKill(102)
        sim.userAdd(102)
        sim.runUntilSettled()
        for v in vids { sim.userKill(v) }
        sim.runUntilSettled()
    }
}
