import Foundation
import Testing
@testable import IavfVM

@Suite("SHA256 verification")
struct ChecksumTests {
    @Test("a file matching its SHA256 passes")
    func goodFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let f = try dir.write("abc", "abc")
        try Checksum.verify(file: f, expected: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
    }

    @Test("a file with the wrong SHA256 is rejected with both digests")
    func badFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let f = try dir.write("abc", "abd")
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        #expect {
            try Checksum.verify(file: f, expected: expected)
        } throws: { error in
            guard case VMError.checksumMismatch(let file, let want, let got) = error else { return false }
            return file == f && want == expected && got != expected && (error as! VMError).exitCode == 3
        }
    }

    @Test("SHA256SUMS lines are matched by file name")
    func sumsFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let sums = try dir.write("SHA256SUMS", """
        cb9a263a6d0d2debe8ac20eadc1065ffb8b22d27f4a6471ac1c0314db341dfb0  linux-image-a_1_amd64.deb
        A86E2049672F52354C4536A089203B6C82639420424D31C91CF31A181FD4D8F1 *linux-image-b_2_amd64.deb

        """)
        #expect(Checksum.listed(fileName: "linux-image-a_1_amd64.deb", inSumsFile: sums)?.hasPrefix("cb9a") == true)
        #expect(Checksum.listed(fileName: "linux-image-b_2_amd64.deb", inSumsFile: sums)?.hasPrefix("a86e") == true)
        #expect(Checksum.listed(fileName: "linux-image-c_3_amd64.deb", inSumsFile: sums) == nil)
    }

    @Test("a corrupt local copy of a pinned kernel is refused before extraction")
    func corruptPinnedDeb() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let pin = KernelSpec.alias(named: "unpatched")!.deb
        try dir.write("local/\(pin.fileName)", "not the kernel package")
        let store = KernelStore(cacheDirectory: dir.file("cache"), localDebDirectories: [dir.file("local")])
        #expect {
            try store.prepare(.package(name: pin.package, version: pin.version))
        } throws: { error in
            guard case VMError.checksumMismatch(_, let want, _) = error else { return false }
            return want == pin.sha256
        }
        let extracted = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("cache/kernels"))) ?? []
        #expect(extracted.isEmpty, "nothing may be extracted from a corrupt package")
    }

    @Test("a corrupt unpinned package is checked against the SHA256SUMS next to it")
    func corruptListedDeb() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let name = "linux-image-0.0.0-iavftest-amd64"
        try dir.write("local/\(name)_1.0_amd64.deb", "tampered")
        try dir.write("local/SHA256SUMS", String(repeating: "0", count: 64) + "  \(name)_1.0_amd64.deb\n")
        let store = KernelStore(cacheDirectory: dir.file("cache"), localDebDirectories: [dir.file("local")])
        #expect(throws: VMError.self) { try store.prepare(.package(name: name, version: "1.0")) }
    }
}
