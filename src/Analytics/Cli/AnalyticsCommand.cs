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

    public static async Task<int> RunAsync(string[] args)
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
        return await root.Parse(args).InvokeAsync();
    }
}
