using System.Globalization;

namespace Analytics.LoadTests.Targets;

/// <summary>The smallest Kestrel app: no logging, no middleware but routing, listening on loopback.</summary>
internal static class MinimalHost
{
    /// <summary>The service's transparent 1×1 GIF, 43 bytes.</summary>
    public static readonly byte[] Gif =
    [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
    ];

    public static WebApplicationBuilder CreateBuilder(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
        return builder;
    }

    /// <summary>Answers the GIF as the service does (image/gif, no-store).</summary>
    public static IResult GifResult(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        return Results.Bytes(Gif, "image/gif");
    }

    /// <summary>Runs until Ctrl-C / SIGTERM.</summary>
    public static async Task<int> RunAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken);
        Console.WriteLine($"Listening on {string.Join(", ", app.Urls)}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
        return 0;
    }
}
