using System.CommandLine;

namespace Analytics.Cli;

/// <summary><c>analytics serve|run|sites|users|tokens|export|reconcile|rollup</c></summary>
internal static class AnalyticsCommand
{
    public static readonly Option<string?> RedisOption = new("--redis")
    {
        Description = "Redis connection string (default: ConnectionStrings:Redis from appsettings.json or ConnectionStrings__Redis, else 127.0.0.1:6379)",
        Recursive = true,
    };

    /// <summary>The sub-commands' names: any of them on the command line means "not the bare server".</summary>
    public static readonly IReadOnlySet<string> Commands = Build().Subcommands.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);

    private static RootCommand Build()
    {
        var root = new RootCommand("Analytics: self-hosted, real-time traffic analytics.\nWithout a command, runs the web service (like 'serve').");
        root.Options.Add(RedisOption);
        root.Options.Add(ReportCommands.ClickHouseOption);
        root.Subcommands.Add(ServeCommands.Serve());
        root.Subcommands.Add(ServeCommands.Run());
        root.Subcommands.Add(ServeCommands.ClickHouseLocal());
        root.Subcommands.Add(SiteCommands.Create());
        root.Subcommands.Add(StaffCommands.Users());
        root.Subcommands.Add(StaffCommands.Tokens());
        root.Subcommands.Add(ReportCommands.Export());
        root.Subcommands.Add(ReportCommands.Reconcile());
        root.Subcommands.Add(ReportCommands.RollupNow());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        try
        {
            // The web service handles SIGTERM/Ctrl-C itself and stops in its own time, and 'run' then
            // stops its local servers: no termination timeout there, or both would be abandoned.
            // Other commands get the cancellation (an export then removes its partial file).
            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            if (parse.CommandResult.Command.Name is "serve" or "run")
            {
                configuration.ProcessTerminationTimeout = null;
            }

            return await parse.InvokeAsync(configuration);
        }
        catch (Exception e) when (Explain(e) is { } message)
        {
            await Console.Error.WriteLineAsync(message);
            return 1;
        }
    }

    /// <summary>One line for the failures an operator meets (a server away, a bad setting, a file that cannot be written); null for bugs.</summary>
    internal static string? Explain(Exception e) => e switch
    {
        StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException =>
            $"Redis is unreachable ({FirstLine(e.Message)}). Check --redis or ConnectionStrings__Redis.",
        HttpRequestException or TaskCanceledException { InnerException: TimeoutException } =>
            $"ClickHouse is unreachable ({FirstLine(e.Message)}). Check --clickhouse or ConnectionStrings__ClickHouse.",
        global::ClickHouse.Driver.ClickHouseServerException =>
            $"ClickHouse refused the request: {FirstLine(e.Message)}",
        Microsoft.Extensions.Options.OptionsValidationException =>
            $"A setting is not valid: {e.Message}",
        IOException or UnauthorizedAccessException =>
            FirstLine(e.Message),
        ArgumentException when e.StackTrace?.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase) == true || e.Message.Contains("connection string", StringComparison.OrdinalIgnoreCase) =>
            $"A connection string is not valid: {FirstLine(e.Message)}",
        AggregateException { InnerExceptions.Count: 1 } aggregate => Explain(aggregate.InnerException!),
        OperationCanceledException => "Stopped before it finished.",
        Sites.SiteRemovalBusyException => e.Message,
        _ => null,
    };

    // The first line, without the Redis client's diagnostics (", mc: …, IOCP: …").
    private static string FirstLine(string text) => text.Split('\n', 2)[0].Split(", mc: ", 2)[0].Trim();
}
