using System.Collections.Concurrent;
using Analytics.LocalStack;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Analytics.BrowserTests.Infrastructure;

/// <summary>
/// The site being tracked: a tiny web server of its own on another loopback port (so on another
/// origin than the analytics service), serving the pages a test puts on it and the trackers'
/// scripts from node_modules. Any <c>*.localhost</c> host name reaches it: Chromium resolves
/// those to loopback, which gives each test a domain of its own.
/// </summary>
public sealed class TrackedSite : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _pages = new(StringComparer.Ordinal);

    private TrackedSite(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts the site; <c>/vendor/plausible.js</c> is Plausible's tracker (the npm package's ES module).</summary>
    public static async Task<TrackedSite> StartAsync(NodeClients clients)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.ListenLocalhost(port));
        var app = builder.Build();
        var site = new TrackedSite(app, port);

        var scripts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["plausible.js"] = clients.Package("@plausible-analytics/tracker", "plausible.js"),
        };
        app.MapGet("/vendor/{file}", (string file) => scripts.TryGetValue(file, out var path)
            ? Results.File(path, "text/javascript; charset=utf-8")
            : Results.NotFound());
        app.MapGet("/favicon.ico", () => Results.NoContent());
        app.MapFallback(async context =>
        {
            if (!site._pages.TryGetValue(context.Request.Path.Value ?? "/", out var html))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            context.Response.Headers.CacheControl = "no-store";
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(html);
        });

        await app.StartAsync();
        return site;
    }

    /// <summary>Puts a page at <paramref name="path"/> and returns its address under <paramref name="host"/>.</summary>
    public Uri Page(string host, string path, string html, string query = "")
    {
        _pages[path] = html;
        return new Uri($"http://{host}:{Port}{path}{query}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
