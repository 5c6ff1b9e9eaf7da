using System.Text.Json;

namespace Analytics.LoadTests.Targets;

/// <summary>
/// The ceiling: Kestrel answering the same requests as the service without doing anything —
/// the 43-byte GIF for <c>/p.gif</c>, 202 for <c>/api/event</c>, and for <c>/api/events</c> a 202
/// with the event count (it parses the array, nothing more).
/// </summary>
internal static class BareTarget
{
    public static WebApplication Build(int port)
    {
        var app = MinimalHost.CreateBuilder(port).Build();
        app.MapGet("/healthz", () => Results.Ok());
        app.MapGet("/p.gif", MinimalHost.GifResult);
        app.MapPost("/api/event", async (HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        app.MapPost("/api/events", async (HttpRequest request) =>
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            return Results.Json(new { accepted = json.RootElement.GetArrayLength(), rejected = Array.Empty<object>() }, statusCode: StatusCodes.Status202Accepted);
        });
        return app;
    }
}
