#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named places where a test kills the process with SIGKILL (`LEADSYNC_FAILPOINT=<name>`), to
/// prove that what is committed before each step is enough to recover after it. Unset in
/// production: one environment read at first use, then a string comparison per step.
public enum Failpoint {
    static let armed: String? = {
        guard let v = getenv("LEADSYNC_FAILPOINT") else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }()

    /// Dies here, as `kill -9` would, when this failpoint is armed.
    public static func hit(_ name: String) {
        guard armed == name else { return }
        kill(getpid(), SIGKILL)
    }
}
