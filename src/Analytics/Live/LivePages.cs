using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Analytics.Live;

/// <summary>The staff dashboard, the embeddable widget and their assets, from live/ next to the binary.</summary>
internal static class LivePages
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "live");

    public static WebApplication UseLivePages(this WebApplication app)
    {
        if (Directory.Exists(Folder))
        {
            app.UseStaticFiles(new StaticFileOptions
            {
                FileProvider = new PhysicalFileProvider(Folder),
                RequestPath = "/live",
                OnPrepareResponse = c => c.Context.Response.Headers.CacheControl = "no-cache",
            });
        }

        return app;
    }

    public static IEndpointRouteBuilder MapLivePages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/dashboard", (HttpContext context) =>
        {
            // Scripts, styles and the hub from this origin only; never framed (no clickjacking of
            // the signed-in dashboard); no address of it leaks in a Referer.
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = DashboardPolicy;
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            return Page("dashboard.html", "text/html; charset=utf-8", "no-cache");
        });
        // Embedded on other sites: any origin may load it; cached briefly so a change reaches them soon.
        app.MapGet("/widget.js", () => Page("widget.js", "text/javascript; charset=utf-8", "public, max-age=300"))
            .RequireCors(Reads.CountsEndpoints.PublicCors);
        return app;
    }

    /// <summary>
    /// The dashboard's Content-Security-Policy. Inline styles stay allowed: the chart library sets
    /// element styles; no inline script is.
    /// </summary>
    public const string DashboardPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static IResult Page(string file, string contentType, string cacheControl)
    {
        var path = Path.Combine(Folder, file);
        return File.Exists(path)
            ? new CachedFile(path, contentType, cacheControl)
            : TypedResults.Problem($"{file} is missing from {Folder}; rebuild the service.", statusCode: StatusCodes.Status500InternalServerError);
    }

    private sealed class CachedFile(string path, string contentType, string cacheControl) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[HeaderNames.CacheControl] = cacheControl;
            return TypedResults.PhysicalFile(path, contentType).ExecuteAsync(httpContext);
        }
    }
}
