// libFuzzer target for Petrel's parsers. Built and run with `make fuzz` (docs/fuzzing.md):
//   swift build --scratch-path .build-fuzz --product petrel-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DPETREL_FUZZ
// The first input byte picks the parser; the rest is its input. Errors are expected and ignored:
// the fuzzer looks for crashes, hangs and runaway memory.
import MailCore
import MailStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    switch bytes[0] % 6 {
    case 0: _ = try? DomainName(text)
    case 1: _ = try? EmailAddress(text)
    case 2: _ = try? AliasSource(text)
    case 3: _ = try? DatabaseURL(parsing: text)
    case 4: _ = SQLScript.statements(text)
    default:
        _ = Punycode.decode(text)
        _ = Punycode.encode(Array(text.unicodeScalars))
        _ = PasswordHashFormat.schemeName(of: text)
    }
    return 0
}

#if PETREL_FUZZ
// SwiftPM links an executable with `main` aliased to `PetrelFuzz_main`; with -parse-as-library
// there is no Swift main, so this entry point hands the process to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("PetrelFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) }
}
#endif
// Built without PETREL_FUZZ (a normal `swift build`), this executable does nothing.
