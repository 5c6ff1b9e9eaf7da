using System.Runtime.InteropServices;

namespace Analytics.LocalStack;

/// <summary>
/// Runs clickhouse-local from the chdb library as a server: the library's command-line entry
/// point with a query that starts the HTTP and TCP listeners and then keeps the call alive.
/// This method only returns when the server fails; SIGTERM ends the process.
/// </summary>
internal static class ChdbHost
{
    public const string LibraryVersion = "26.7.3-stable.1";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint QueryCommandLine(int argc, nint[] argv);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint ResultError(nint result);

    public static string DefaultLibraryPath() =>
        Environment.GetEnvironmentVariable("ANALYTICS_CHDB_LIBRARY") is { Length: > 0 } path
            ? path
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "analytics", "chdb", LibraryVersion, "libchdb.so");

    public static int Serve(string library, string config, string dataPath)
    {
        Directory.CreateDirectory(dataPath);
        var handle = NativeLibrary.Load(library);
        var query = Marshal.GetDelegateForFunctionPointer<QueryCommandLine>(NativeLibrary.GetExport(handle, "chdb_query_cmdline"));
        var error = Marshal.GetDelegateForFunctionPointer<ResultError>(NativeLibrary.GetExport(handle, "chdb_result_error"));

        string[] arguments =
        [
            "clickhouse",
            $"--config-file={config}",
            $"--path={dataPath}",
            // The keep-alive statement shows in system.processes: never KILL QUERY it.
            "--query=SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT sleepEachRow(1) FROM numbers(1000000000) SETTINGS max_block_size=1 FORMAT Null",
        ];
        var argv = arguments.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        try
        {
            var result = query(argv.Length, argv);
            var message = result == 0 ? "no result" : Marshal.PtrToStringUTF8(error(result));
            Console.Error.WriteLine($"clickhouse-local stopped: {message ?? "without an error"}");
            return 1;
        }
        finally
        {
            foreach (var pointer in argv)
            {
                Marshal.FreeCoTaskMem(pointer);
            }
        }
    }
}
