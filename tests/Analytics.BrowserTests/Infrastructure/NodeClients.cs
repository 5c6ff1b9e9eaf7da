using System.Diagnostics;
using System.Reflection;
using Analytics.BrowserTests.Infrastructure;

[assembly: AssemblyFixture(typeof(NodeClients))]

namespace Analytics.BrowserTests.Infrastructure;

/// <summary>
/// The real tracker clients from npm (clients/package.json, pinned by clients/package-lock.json),
/// installed into clients/node_modules by <c>npm ci</c> when they are missing, so that a fresh
/// clone needs nothing but node and npm.
/// </summary>
public sealed class NodeClients : IAsyncLifetime
{
    private static readonly string[] Packages = ["@plausible-analytics/tracker", "@umami/node"];

    public string Folder { get; } = typeof(NodeClients).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ClientsDirectory").Value!;

    public string Modules => Path.Combine(Folder, "node_modules");

    /// <summary>A file of an installed package, e.g. <c>Package("@plausible-analytics/tracker", "plausible.js")</c>.</summary>
    public string Package(string name, string file) => Path.Combine(Modules, name, file);

    public async ValueTask InitializeAsync()
    {
        if (Packages.All(p => File.Exists(Path.Combine(Modules, p, "package.json"))))
        {
            return;
        }

        var result = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(3));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {Folder} failed ({result.ExitCode}):\n{result.Output}\n{result.Error}");
        }
    }

    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs a program in the clients folder, with a deadline.</summary>
    public async Task<Result> RunAsync(string program, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish in time.\n{await output}\n{await error}");
        }

        return new Result(process.ExitCode, await output, await error);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
