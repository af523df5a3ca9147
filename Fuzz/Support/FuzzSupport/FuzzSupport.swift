@_exported import FuzzDriver

#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer with this process's arguments and `body` as the test function, then exits.
/// `body` gets one input and returns 0 (inputs are never rejected); a property violation traps.
/// It must not capture anything (a C function pointer cannot): keep state in globals.
public func fuzzMain(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    // C call: libFuzzer parses argc/argv (it may rewrite them) and calls `body` once per input.
    exit(LLVMFuzzerRunDriver(&argc, &argv, body))
}

/// The input as a raw buffer (libFuzzer passes NULL for an empty input).
@inline(__always)
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}
