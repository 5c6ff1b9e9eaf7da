using System.CommandLine;

namespace Analytics.Cli;

/// <summary><c>analytics serve|run|sites|users|tokens|…</c></summary>
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
        root.Subcommands.Add(ServeCommands.Serve());
        root.Subcommands.Add(ServeCommands.Run());
        root.Subcommands.Add(ServeCommands.ClickHouseLocal());
        root.Subcommands.Add(SiteCommands.Create());
        root.Subcommands.Add(StaffCommands.Users());
        root.Subcommands.Add(StaffCommands.Tokens());
        return await root.Parse(args).InvokeAsync();
    }
}
