"""Weather providers (OpenWeatherMap) behind the WeatherProvider port."""
