using Analytics.ClickHouse;
using Analytics.Counting;
using Analytics.Health;
using Analytics.Infrastructure;
using Analytics.Ingest;
using Analytics.Live;
using Analytics.Reads;
using Analytics.Reports;
using Analytics.Sites;
using Analytics.Staff;
using Analytics.Telemetry;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace Analytics;

/// <summary>The web service: what it is made of, and the order requests pass through.</summary>
internal static class ServerApp
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // The defaults ship next to the binary; the content root is wherever the service was started.
        builder.Configuration.Sources.Insert(0, new JsonConfigurationSource
        {
            Path = "appsettings.json",
            Optional = true,
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
        });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.Section)
            .Validate(o => o.TryTrustedNetworks(out _, out _), "Analytics:TrustedProxies holds an entry that is neither an IP address nor a network such as 10.0.0.0/8.")
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Detail ??= c.ProblemDetails.Status switch
        {
            // The answers ASP.NET Core gives without a word of its own.
            StatusCodes.Status404NotFound => $"There is nothing at {c.HttpContext.Request.Method} {c.HttpContext.Request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{c.HttpContext.Request.Path} does not answer {c.HttpContext.Request.Method}.",
            StatusCodes.Status415UnsupportedMediaType => "Send the body as JSON (Content-Type: application/json).",
            _ => null,
        });
        // Binding failures throw, so BadRequestHandler can say what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestHandler>();
        builder.AddTelemetry();
        builder.Services.AddRedis(builder.Configuration);
        builder.AddClickHouse();
        builder.AddSites();
        builder.AddStaff();
        builder.AddCounting();
        builder.AddIngest();
        builder.AddReads();
        builder.AddRollupAndReports();
        builder.AddLive();

        var app = builder.Build();
        app.UseForwardedHeaders();
        app.UseExceptionHandler();
        app.UsePixel();
        // Every answer but the pixel's GIF tells browsers not to guess its type (the pixel's other
        // answers, given above, set it themselves).
        app.Use((context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return next(context);
        });
        app.UseRouting();
        app.UseStatusCodePages();
        app.UseCors();
        app.UseLivePages();
        // Placed here explicitly, so WebApplication does not add it at the head of the pipeline.
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapIngest();
        app.MapSites();
        app.MapStaff();
        app.MapCounts();
        app.MapReports();
        app.MapLive();
        app.MapLivePages();
        app.MapHealth();
        app.MapTelemetry();
        return app;
    }
}
