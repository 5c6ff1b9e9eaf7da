using Analytics;
using Analytics.Cli;

// No sub-command (nothing, or only host options such as --urls): run the web service. That is
// also how WebApplicationFactory starts it in tests. Otherwise the command line, wherever the
// command stands (`analytics --redis … sites list` too), and `analytics --help`.
if (!args.Any(a => a is "-h" or "-?" or "--help" or "--version" || AnalyticsCommand.Commands.Contains(a)))
{
    await ServerApp.Build(args).RunAsync();
    return 0;
}

return await AnalyticsCommand.RunAsync(args);

/// <summary>The entry point, named for WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
