using System.CommandLine;
using Analytics.LoadTests.Commands;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests;

/// <summary>
/// The entry point. A named class, not top-level statements: a test project that references this
/// one (with its internals) must still see exactly one global <c>Program</c>, the service's.
/// </summary>
internal static class LoadTestsProgram
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("""
            Load tests for Analytics: sends traffic to the service and proves that every acknowledged hit is
            counted — in Redis, and after a rollup in ClickHouse — and measures how fast and how steady it is.
            Unless given a --target, each command starts its own Redis, ClickHouse and service (Release build
            of src/Analytics) on free loopback ports, and stops them at the end.
            """)
        {
            RunCommand.Create(),
            CompareCommand.Create(),
            CrashCommand.Create(),
            LatencyCommand.Create(),
            RollupBenchCommand.Create(),
            StackCommand.Create(),
            TargetCommands.Lossy(),
            TargetCommands.Bare(),
            TargetCommands.Hincrby(),
            TargetCommands.Floor(),
        };

        var parse = root.Parse(args);
        if (parse.CommandResult.Command != root && ServiceBuild.Inspect(typeof(LoadTestsProgram).Assembly.Location).IsDebug)
        {
            ServiceBuild.Warn(Console.Error, "this harness is a Debug build: its load generator and targets are slow. Build it with -c Release.");
        }

        try
        {
            // Ctrl-C / SIGTERM cancel the command; give it time to stop the servers it started (they run in sessions of their own).
            return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60), EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or ArgumentException or FileNotFoundException or HttpRequestException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return 130;
        }
    }
}
